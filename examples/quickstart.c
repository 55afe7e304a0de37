/* examples/quickstart.c — the README's example. */
#include <kiln.h>
#include <stdio.h>

int main(void)
{
    kiln_ctx *ctx = kiln_ctx_new(NULL);
    double data[5] = {-2, -1, 0, 1, 2};
    int64_t n = 5;
    kiln_array *x, *y;
    kiln_array_wrap(ctx, data, KILN_FLOAT64, 1, &n, NULL, NULL, NULL, &x);
    kiln_expr xe = kiln_input(ctx, x); /* leaky ReLU, one fused loop */
    kiln_expr e = kiln_where(kiln_greater(xe, kiln_f64(ctx, 0)), xe,
                             kiln_multiply(kiln_f64(ctx, 0.01), xe));
    if (kiln_eval(e, &y) != KILN_OK)
        return fprintf(stderr, "%s\n", kiln_errmsg(ctx)), 1;
    for (int64_t i = 0; i < n; i++)
        printf("%g ", kiln_array_get_f64(y, i));
    printf("\n");
    kiln_array_release(y);
    kiln_array_release(x);
    kiln_ctx_free(ctx);
    return 0;
}
