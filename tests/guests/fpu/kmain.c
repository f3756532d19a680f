/* x87 test kernel: float and double work as gcc -m32 -O2 -march=i686 compiles it
 * (FLD/FST of all widths, arithmetic, FSQRT, conversions, FCOMI/FCMOV/CMOV), the
 * results written to port E9h as hex so that a run on pcmachine and a run on
 * QEMU can be compared byte for byte.  No libc: freestanding. */

static void out(unsigned char c) { __asm__ volatile("outb %0, $0xE9" : : "a"(c)); }

static void hex(const void *p, int n) {
    const unsigned char *b = p;
    for (int i = n - 1; i >= 0; i--) {
        out("0123456789ABCDEF"[b[i] >> 4]);
        out("0123456789ABCDEF"[b[i] & 15]);
    }
    out('\n');
}

static void say(const char *s) { while (*s) out(*s++); }

volatile double seed_d = 1.0;
volatile float seed_f = 3.0f;
volatile int seed_i = 7;

static double harmonic(int n) {
    double sum = 0.0;
    for (int i = 1; i <= n; i++)
        sum += seed_d / i;
    return sum;
}

static float newton_sqrt(float x) {
    float g = x / 2.0f;
    for (int i = 0; i < 20; i++)
        g = 0.5f * (g + x / g);
    return g;
}

static double poly(double x) { return ((2.5 * x - 1.25) * x + 0.375) * x - 3.0; }

static int clamp(double x, int lo, int hi) {   /* FCOMI + CMOV at -O2 -march=i686 */
    int v = (int)x;
    return v < lo ? lo : v > hi ? hi : v;
}

void kmain(void) {
    say("x87\n");
    double h = harmonic(1000);
    hex(&h, 8);
    float s = newton_sqrt(seed_f);
    hex(&s, 4);
    double r = __builtin_sqrt(seed_d * 2.0);
    hex(&r, 8);
    long double e = 1.0L;
    long double term = 1.0L;
    for (int i = 1; i < 25; i++) {
        term /= i;
        e += term;
    }
    hex(&e, 10);
    double p = poly(seed_d * 1.1);
    hex(&p, 8);
    long long big = (long long)(h * 1e15);
    hex(&big, 8);
    int c = clamp(p * 100.0, -50, 50) + clamp(h * 10.0, 0, 40) + clamp(-h, -1, 1);
    hex(&c, 4);
    float f = (float)seed_i / 3.0f;
    double d = f;
    hex(&d, 8);
    double m = seed_d;
    for (int i = 0; i < 1080; i++)
        m *= 1.9;                     /* overflows to +inf */
    hex(&m, 8);
    double tiny = seed_d;
    for (int i = 0; i < 1080; i++)
        tiny /= 3.0;                  /* down through the denormals to zero */
    hex(&tiny, 8);
    say("END\n");
}
