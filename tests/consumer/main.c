/* Evaluates 2*x+1 on 1000 doubles with an installed kiln; exit 0 iff right. */
#include <kiln.h>
#include <stdio.h>

int main(void)
{
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    if (!ctx)
        return 1;
    double xs[1000];
    for (int i = 0; i < 1000; i++)
        xs[i] = i;
    int64_t n = 1000;
    kiln_array *x = NULL, *y = NULL;
    int bad = kiln_array_wrap(ctx, xs, KILN_FLOAT64, 1, &n, NULL, NULL, NULL, &x) != KILN_OK;
    kiln_expr e = kiln_add(kiln_multiply(kiln_input(ctx, x), kiln_f64(ctx, 2)), kiln_f64(ctx, 1));
    if (!bad && kiln_eval(e, &y) != KILN_OK) {
        fprintf(stderr, "consumer: %s\n", kiln_errmsg(ctx));
        bad = 1;
    }
    for (int64_t i = 0; !bad && i < n; i++)
        bad = kiln_array_get_f64(y, i) != 2.0 * (double)i + 1.0;
    kiln_array_release(y);
    kiln_array_release(x);
    kiln_ctx_free(ctx);
    puts(bad ? "consumer: FAILED" : "consumer: ok");
    return bad;
}
