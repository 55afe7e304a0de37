#!/bin/sh
# tests/test_cli.sh — drives the `kiln` binary (tools/kiln.c) over the .npy
# fixtures: help texts, NumPy-like previews (exact text), every mode, every
# exit status (0 success, 1 error from kiln, 2 usage), --out written byte
# for byte as np.save writes (compared with a fixture) and read back,
# record fields, --repeat timings, the --threads note, --dump and --dump-dir,
# --udf with the library built from tests/cli_udf.c (third argument).
#   sh tests/test_cli.sh path/to/kiln tests/fixtures [path/to/libkiln_test_udf.so]
set -u
KILN=$1
FIX=$2
T=$(mktemp -d "${TMPDIR:-/tmp}/kiln_cli.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
n=0

fail() {
    echo "FAIL: $*"
    echo "  stdout: $(cat "$T/out")"
    echo "  stderr: $(cat "$T/err")"
    fails=$((fails + 1))
}

# run STATUS ARGS...: runs kiln, checks the exit status
run() {
    want=$1
    shift
    n=$((n + 1))
    "$KILN" "$@" >"$T/out" 2>"$T/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "kiln $* exited $got, want $want"
}

# has FILE TEXT: FILE (out or err) contains TEXT
has() {
    grep -F -q -- "$2" "$T/$1" || fail "$1 of the last run lacks '$2'"
}

# is TEXT: stdout is exactly TEXT
is() {
    printf '%s\n' "$1" >"$T/want"
    cmp -s "$T/want" "$T/out" || fail "stdout differs from:
$1"
}

# ---- help -------------------------------------------------------------------
run 0 --help
has out "usage: kiln <command>"
has out "eval EXPR"
run 0 eval --help
for opt in --in --out --mode --repeat --threads --dump --dump-dir "examples:" "Exit status"; do
    has out "$opt"
done
run 0 --version
has out "kiln 0."

# ---- usage errors: 2 ----------------------------------------------------------
run 2
has err "usage: kiln"
run 2 frobnicate
has err "unknown command 'frobnicate'"
run 2 eval
has err "eval needs an expression"
run 2 eval x --in x
has err "--in wants NAME=FILE.npy"
run 2 eval x --in =f.npy
run 2 eval x --in x=
run 2 eval x --in 1x=f.npy
has err "NAME must be an identifier"
run 2 eval x --in None=f.npy
run 2 eval x --in x=a.npy --in x=b.npy
has err "bound twice"
run 2 eval x --mode fast
has err "--mode is fused, unfused or interp"
run 2 eval x --repeat 0
run 2 eval x --repeat 3x
has err "--repeat wants a count"
run 2 eval x --threads -1
run 2 eval x --bogus
has err "unknown option '--bogus'"
run 2 eval x y
has err "unexpected argument 'y'"
run 2 eval x --out
has err "option '--out' needs a value"

# ---- success: previews exactly as NumPy's repr ----------------------------------
for mode in fused unfused interp; do
    run 0 eval 'where(x > 0, x, 0.01*x)' --in "x=$FIX/f8.npy" --mode "$mode"
    is 'dtype: float64
shape: (5,)
array([ 1.5   , -0.0225,  0.    ,     inf,     nan])'
done
run 0 eval 'm' --in "m=$FIX/i8_grid.npy"
is 'dtype: int64
shape: (3, 4)
array([[ 0,  1,  2,  3],
       [ 4,  5,  6,  7],
       [ 8,  9, 10, 11]])'
run 0 eval 'float32(m) / 3' --in "m=$FIX/i8_grid.npy"
is 'dtype: float32
shape: (3, 4)
array([[0.        , 0.33333334, 0.6666667 , 1.        ],
       [1.3333334 , 1.6666666 , 2.        , 2.3333333 ],
       [2.6666667 , 3.        , 3.3333333 , 3.6666667 ]], dtype=float32)'
run 0 eval 'x' --in "x=$FIX/i2_arange1200.npy"
is 'dtype: int16
shape: (1200,)
array([   0,    1,    2, ..., 1197, 1198, 1199], dtype=int16)'
run 0 eval 'float64(x[:30])' --in "x=$FIX/i2_arange1200.npy"
is 'dtype: float64
shape: (30,)
array([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12.,
       13., 14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25.,
       26., 27., 28., 29.])'
run 0 eval 'x * 1e-5' --in "x=$FIX/f8.npy"
is 'dtype: float64
shape: (5,)
array([ 1.50e-05, -2.25e-05,  0.00e+00,       inf,       nan])'
run 0 eval 'm.T[::2]' --in "m=$FIX/i4_3d.npy"
is 'dtype: int32
shape: (2, 3, 2)
array([[[ 0, 12],
        [ 4, 16],
        [ 8, 20]],

       [[ 2, 14],
        [ 6, 18],
        [10, 22]]], dtype=int32)'
run 0 eval 'x[None] > 0' --in "x=$FIX/f8.npy"
is 'dtype: bool
shape: (1, 5)
array([[ True, False, False,  True, False]])'
run 0 eval 'm[1, 2] * 2.5' --in "m=$FIX/i8_grid.npy"
is 'dtype: float64
shape: ()
array(15.)'
run 0 eval 'x[:0]' --in "x=$FIX/f8.npy"
is 'dtype: float64
shape: (0,)
array([], dtype=float64)'
run 0 eval '-x[1:3] + 1' --in "x=$FIX/f8.npy"
is 'dtype: float64
shape: (2,)
array([3.25, 1.  ])'
run 0 eval '2**10 + 1'
is 'dtype: int64
shape: ()
array(1025)'
run 0 eval 'rec.temperature * 2 + rec["pressure"]' --in "rec=$FIX/rec.npy"
is 'dtype: float64
shape: (3,)
array([103., 205., 294.])'
# option spellings, "--" before an expression
run 0 eval --mode=interp --in="x=$FIX/f8.npy" -- 'x[0]'
is 'dtype: float64
shape: ()
array(1.5)'

# ---- --out: np.save's bytes, read back -------------------------------------------
run 0 eval 'm' --in "m=$FIX/i8_grid.npy" --out "$T/o.npy"
[ -s "$T/out" ] && fail "--out printed to stdout"
cmp -s "$T/o.npy" "$FIX/i8_grid.npy" || fail "--out did not write np.save's bytes"
run 0 eval 'o * 2' --in "o=$T/o.npy"
is 'dtype: int64
shape: (3, 4)
array([[ 0,  2,  4,  6],
       [ 8, 10, 12, 14],
       [16, 18, 20, 22]])'
run 0 eval 'f.T' --in "f=$FIX/i4_fortran3d.npy" --out "$T/c.npy" --mode unfused
run 0 eval 'c.T' --in "c=$T/c.npy" --out "$T/c2.npy"
cmp -s "$T/c2.npy" "$FIX/i4_3d.npy" || fail "a transposed round trip differs from the C-order file"

# ---- --repeat, --threads, --dump ---------------------------------------------------
run 0 eval 'sqrt(x * x)' --in "x=$FIX/f8.npy" --repeat 3
has out "first evaluation: "
has out "median of 3 more: "
has out "array([1.5 , 2.25, 0.  ,  inf,  nan])"
run 0 eval 'x' --in "x=$FIX/f8.npy" --threads 2
has err "does not split evaluations over threads yet"
run 0 eval 'x * 2 + 1' --in "x=$FIX/f8.npy" --dump ir,plan,stats --dump-dir "$T/dump"
has out "array("
has err "kiln stats: 1 kernel"
has err "k0000_fused_multiply_add_f64_r1-"
ls "$T/dump" >"$T/out"
has out ".ir.ll"
has out ".plan.txt"
run 0 eval 'x' --in "x=$FIX/f8.npy" --dump-dir "$T/dump2"
[ ! -e "$T/dump2" ] || fail "--dump-dir alone created a folder"
run 2 eval 'x' --in "x=$FIX/f8.npy" --dump ir,bogus
has err "unknown dump stage 'bogus'"
: >"$T/afile"
run 1 eval 'x' --in "x=$FIX/f8.npy" --dump ir --dump-dir "$T/afile/sub"
has err "cannot create the dump folder"

# ---- errors from kiln: 1 -------------------------------------------------------------
run 1 eval 'x + xx' --in "x=$FIX/f8.npy"
has err "unknown name 'xx' at column 5"
has err "    x + xx"
has err "        ^~"
has err "did you mean 'x'?"
run 1 eval 'where(x, x)' --in "x=$FIX/f8.npy"
has err "where() expects 3 arguments, 2 given"
run 1 eval 'x + m' --in "x=$FIX/f8.npy" --in "m=$FIX/i8_grid.npy"
has err "operands could not be broadcast together with shapes (5,) (3,4)"
run 1 eval 'x' --in "x=$T/no_such.npy"
has err "--in x:"
has err "cannot open"
run 1 eval 'x' --in "x=$FIX/bad_magic.npy"
has err "not a .npy file"
run 1 eval 'x' --in "x=$FIX/bad_truncated_data.npy"
has err "truncated"
run 1 eval 'x' --in "x=$FIX/unsupported_c16.npy"
has err "complex"
run 1 eval 'rec + 1' --in "rec=$FIX/rec.npy"
has err "select a field"
run 1 eval 'x' --in "x=$FIX/f8.npy" --out "$T/no/such/dir.npy"
has err "cannot create"

# ---- kiln cache stats|clear, on a folder of this test's own -------------------
run 0 --help
has out "cache stats"
has out "KILN_CACHE_DIR"
saved_cache=${KILN_CACHE-off}
KILN_CACHE_DIR="$T/kcache"
export KILN_CACHE_DIR
unset KILN_CACHE
run 0 cache stats
has out "kiln disk cache: $T/kcache"
has out "state: on"
has out "entries: 0 kernels"
run 0 eval '2*x + 1' --in "x=$FIX/f8.npy"
run 0 eval '2*x + 1' --in "x=$FIX/f8.npy" --dump stats
has err "kernels loaded"
run 0 cache stats
has out "entries: 1 kernels"
run 0 cache clear
has out "removed 1 file"
run 0 cache stats
has out "entries: 0 kernels"
run 2 cache
has err "usage: kiln cache stats"
run 2 cache frobnicate
has err "usage: kiln cache stats"
KILN_CACHE=off
export KILN_CACHE
run 0 cache stats
has out "state: off"
run 0 eval '2*x + 1' --in "x=$FIX/f8.npy"
[ ! -e "$T/kcache/"*.kobj ] || fail "KILN_CACHE=off wrote an entry"
unset KILN_CACHE_DIR
KILN_CACHE=$saved_cache

# ---- --udf: C functions from a shared library (tests/cli_udf.c) ---------------------
UDF=${3:-}
if [ -n "$UDF" ]; then
    for mode in fused unfused interp; do
        run 0 eval 'wavg(m, 2)' --in "m=$FIX/i8_grid.npy" --udf "$UDF:wavg:f64(f64,f64)" \
            --mode "$mode"
        is 'dtype: float64
shape: (3, 4)
array([[1.5 , 1.75, 2.  , 2.25],
       [2.5 , 2.75, 3.  , 3.25],
       [3.5 , 3.75, 4.  , 4.25]])'
        # three functions, two signature spellings, fused with where and a view
        run 0 eval 'where(is_odd(m), scale_sub(m, 3), halve(m[::-1]))' --in "m=$FIX/i8_grid.npy" \
            --udf "$UDF:scale_sub:i64(i64,i32)" --udf "$UDF:is_odd:bool(int64)" \
            --udf "$UDF:halve: f32( float32 ) " --mode "$mode"
        is 'dtype: float64
shape: (3, 4)
array([[ 4.,  2.,  5.,  8.],
       [ 2., 14.,  3., 20.],
       [ 0., 26.,  1., 32.]])'
    done
    run 0 eval --help
    has out "--udf LIB:SYMBOL:SIG"
    has out "--udf ./libgeo.so:hypot3:'f64(f64,f64,f32)'"
    # usage errors: 2
    run 2 eval 'x' --udf
    has err "option '--udf' needs a value"
    run 2 eval 'x' --udf "wavg"
    has err "--udf wants LIB:SYMBOL:SIG, e.g. ./libf.so:f:f64(f64,f64), not 'wavg'"
    # SYMBOL:SIG after the library | what the message says
    while IFS='|' read -r spec msg; do
        run 2 eval 'x' --udf "$UDF:$spec"
        has err "$msg"
    done <<'CASES'
:f64(f64)|--udf wants LIB:SYMBOL:SIG
2x:f64(f64)|SYMBOL '2x' must be a C identifier
wavg:f64(f64|missing ')' at the end of SIG
wavg:f64 f64|expected '(' after the return dtype
wavg:f65(f64)|unknown dtype 'f65'
wavg:f64()|expected a dtype at ')'
wavg:f64(f64,f64)x|expected ',' or a final ')'
wavg:f64(f64,f64,f64,f64,f64,f64,f64,f64,f64)|more than 8 arguments
CASES
    # errors from loading or kiln: 1
    run 1 eval 'wavg(m, 1)' --in "m=$FIX/i8_grid.npy" --udf "$T/no_such.so:wavg:f64(f64,f64)"
    has err "--udf: cannot load library '$T/no_such.so'"
    run 1 eval 'wavg(m, 1)' --in "m=$FIX/i8_grid.npy" --udf "$FIX/f8.npy:wavg:f64(f64,f64)"
    has err "cannot load library"
    run 1 eval 'nope(m)' --in "m=$FIX/i8_grid.npy" --udf "$UDF:nope:f64(f64)"
    has err "--udf: no symbol 'nope' in '$UDF'"
    run 1 eval 'wavg(m, 1)' --in "m=$FIX/i8_grid.npy" --udf "$UDF:wavg:f64(f64,f64)" \
        --udf "$UDF:wavg:f64(f64,f64)"
    has err "'wavg' is already registered"
    run 1 eval 'wavg(m)' --in "m=$FIX/i8_grid.npy" --udf "$UDF:wavg:f64(f64,f64)"
    has err "wavg() expects 2 arguments, 1 given at column 1"
    has err "    ^~~~~~~"
    run 1 eval 'wavg(m, 1)' --in "m=$FIX/i8_grid.npy"
    has err "unknown function 'wavg'"
    run 1 eval 'scale_sub(m, 1.5)' --in "m=$FIX/i8_grid.npy" --udf "$UDF:scale_sub:i64(i64,i32)"
    has err "scale_sub: argument 2 is a Python float, which cannot be cast to the declared int32"
    run 1 eval 'scale_sub(m * 0.5, 1)' --in "m=$FIX/i8_grid.npy" --udf "$UDF:scale_sub:i64(i64,i32)"
    has err "argument 1 has dtype float64, which cannot be cast to the declared int64"
fi

echo "test_cli: $n runs, $fails failures"
[ "$fails" -eq 0 ]
