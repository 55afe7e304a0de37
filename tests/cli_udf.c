/*
 * tests/cli_udf.c — a small shared library (CMake MODULE target
 * kiln_test_udf) of C functions for tests/test_cli.sh, which loads them
 * with `kiln eval --udf LIB:SYMBOL:SIG`. Plain C, no kiln header: what a
 * user would compile.
 */
#include <stdbool.h>
#include <stdint.h>

double wavg(double a, double b);
int64_t scale_sub(int64_t a, int32_t b);
bool is_odd(int64_t x);
float halve(float x);

double wavg(double a, double b) { return 0.25 * a + 0.75 * b; }
int64_t scale_sub(int64_t a, int32_t b) { return a * b - 1; }
bool is_odd(int64_t x) { return x % 2 != 0; }
float halve(float x) { return x / 2; }
