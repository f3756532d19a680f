/* x87 guest: float, double and long double work as gcc -m32 -O2 compiles it
 * (loads, stores, arithmetic, compares through FCOMI/FUCOMI and FCMOV on i686,
 * conversions with FISTP under a changed control word, rounding modes, the
 * transcendentals through inline asm), every result written in hex to the
 * debug port 0xE9.  The expected output is QEMU's (see tests/test_fpu_guest.py);
 * transcendental results are printed as floats, because QEMU computes them
 * through the host's double functions. */

typedef unsigned int u32;
typedef unsigned long long u64;

static inline void outb(unsigned short port, unsigned char value)
{
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static void puts_(const char *s)
{
    while (*s)
        outb(0xE9, (unsigned char)*s++);
}

static void hex(const void *p, int n)
{
    const unsigned char *b = p;
    static const char digits[] = "0123456789abcdef";
    while (n--) {
        outb(0xE9, (unsigned char)digits[b[n] >> 4]);
        outb(0xE9, (unsigned char)digits[b[n] & 15]);
    }
}

static void show_d(const char *name, double v) { puts_(name); puts_("="); hex(&v, 8); puts_("\n"); }
static void show_f(const char *name, float v) { puts_(name); puts_("="); hex(&v, 4); puts_("\n"); }
static void show_ld(const char *name, long double v) { puts_(name); puts_("="); hex(&v, 10); puts_("\n"); }
static void show_i(const char *name, long long v) { puts_(name); puts_("="); hex(&v, 8); puts_("\n"); }

static unsigned short get_cw(void) { unsigned short cw; __asm__ volatile("fnstcw %0" : "=m"(cw)); return cw; }
static void set_cw(unsigned short cw) { __asm__ volatile("fldcw %0" : : "m"(cw) : "memory"); }
static unsigned short get_sw(void) { unsigned short sw; __asm__ volatile("fnstsw %0" : "=m"(sw)); return sw; }

/* volatile inputs so that gcc cannot fold the arithmetic at compile time */
static volatile double vd[] = { 1.0, 3.0, 0.1, -2.5, 1e300, 1e-300, 123456.789, 0.0 };
static volatile float vf[] = { 1.0f, 3.0f, 0.1f, -2.5f, 3.4e38f, 1e-38f, 16777217.0f };
static volatile int vi[] = { 7, -3, 1000000, -2147483647 - 1 };

static float t_sin(float x) { long double r; __asm__("fsin" : "=t"(r) : "0"((long double)x)); return (float)r; }
static float t_cos(float x) { long double r; __asm__("fcos" : "=t"(r) : "0"((long double)x)); return (float)r; }
static float t_atan2(float y, float x)
{
    long double r;
    __asm__("fpatan" : "=t"(r) : "0"((long double)x), "u"((long double)y) : "st(1)");
    return (float)r;
}
static float t_log2(float x)
{
    long double r;
    __asm__("fld1; fxch; fyl2x" : "=t"(r) : "0"((long double)x));
    return (float)r;
}
static float t_exp2m1(float x) { long double r; __asm__("f2xm1" : "=t"(r) : "0"((long double)x)); return (float)r; }

int main(void)
{
    double a = vd[0], b = vd[1], c = vd[2], d = vd[3];
    float fa = vf[0], fb = vf[1], fc = vf[2];
    long double la = vd[0], lb = vd[1];
    (void)la;
    int i;

    puts_("x87 guest\n");
    show_d("div", a / b);
    show_d("mul", c * b);
    show_d("sub", c - d);
    show_d("add", a + c);
    show_d("ovf", vd[4] * vd[4]);
    show_d("unf", vd[5] * vd[5]);
    show_d("tiny", vd[5] * 1e-10);
    show_f("fdiv", fa / fb);
    show_f("fsum", fa + fc + fc);
    show_f("fbig", vf[4] * 2.0f);
    show_f("fint", vf[6]);
    show_ld("ldiv", la / lb);
    show_ld("lsqrt", __builtin_sqrtl(lb));
    show_d("sqrt", __builtin_sqrt(c));

    /* a harmonic sum and a product of many roundings */
    {
        double h = 0.0, p = 1.0;
        for (i = 1; i <= 200; i++) {
            h += a / (double)i;
            p *= 1.0 + c / (double)i;
        }
        show_d("harm", h);
        show_d("prod", p);
    }
    /* compares (FUCOMI/FCOMI, FCMOV on i686) */
    {
        u32 bits = 0;
        for (i = 0; i < 8; i++) {
            double x = vd[i], y = vd[(i + 3) & 7];
            bits = bits << 2 | (x < y) << 1 | (x == y);
            double m = x > y ? x : y;
            show_d("max", m);
        }
        show_i("cmp", bits);
    }
    /* conversions: truncation (C semantics: FISTP under a round-to-zero CW) */
    show_i("d2i", (long long)(int)vd[6]);
    show_i("d2ll", (long long)(vd[6] * 1e6));
    show_i("neg", (long long)(int)vd[3]);
    show_d("i2d", (double)vi[3]);
    show_f("i2f", (float)vi[2]);
    show_d("ll2d", (double)(long long)0x7FFFFFFFFFFFFFFFLL);
    /* rounding modes and precision control by hand */
    {
        unsigned short cw = get_cw();
        int rc;
        for (rc = 0; rc < 4; rc++) {
            volatile long long n;
            set_cw((cw & ~0x0C00) | rc << 10);
            show_d("rdiv", vd[0] / vd[1]);
            show_d("rneg", vd[3] / vd[1]);
            show_d("rsum", vd[2] + vd[6]);
            __asm__ volatile("fistpll %0" : "=m"(n) : "t"((long double)vd[3]) : "st");
            show_i("rint", n);
        }
        set_cw((cw & ~0x0300));            /* 24-bit precision */
        show_ld("pc24", (long double)vd[0] / (long double)vd[1]);
        set_cw((cw & ~0x0300) | 0x0200);   /* 53-bit */
        show_ld("pc53", (long double)vd[0] / (long double)vd[1]);
        set_cw(cw);
        show_i("cw", cw);
    }
    /* specials: 0/0, inf-inf, sqrt(-1), 1/0 (masked responses) and the flags */
    {
        volatile double z = vd[7];
        __asm__ volatile("fnclex");
        show_d("nan", z / z);
        show_d("inf", a / z);
        show_d("ninf", -a / z);
        show_d("sqrtneg", __builtin_sqrt(d));
        show_i("sw", get_sw() & 0x3F);
    }
    /* transcendentals (results as float: see above) */
    show_f("sin", t_sin(0.5f));
    show_f("cos", t_cos(2.0f));
    show_f("atan2", t_atan2(1.0f, -1.0f));
    show_f("log2", t_log2(10.0f));
    show_f("exp2", t_exp2m1(0.5f));
    puts_("end\n");
    return 0;
}
