/* x87 random-operand guest: a fixed xorshift sequence of operands of every class
 * (zeros, denormals, normals over the whole range, infinities, QNaNs, SNaNs,
 * unnormals) through one x87 instruction each, under every rounding and
 * precision control with all exceptions masked.  Per case it writes to port
 * 0xE9: the case number, the control word, the operands (ST(0), ST(1), the
 * memory operand), then ST(0), ST(1), the status word (exception flags and
 * condition codes, TOP) and the memory result.  The expected output is QEMU's
 * (tests/test_fpu_qemu.py says how it was made); where QEMU departs from the
 * SDM the test names the case. */

typedef unsigned int u32;
typedef unsigned long long u64;
typedef unsigned short u16;

static inline void outb(unsigned char value)
{
    __asm__ volatile("outb %0, $0xE9" : : "a"(value));
}

static void hex(const void *p, int n)
{
    const unsigned char *b = p;
    static const char digits[] = "0123456789abcdef";
    while (n--) {
        outb((unsigned char)digits[b[n] >> 4]);
        outb((unsigned char)digits[b[n] & 15]);
    }
}

static u64 state = 0x9E3779B97F4A7C15ULL;

static u64 next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

struct ext { u64 mant; u16 se; } __attribute__((packed));

static void gen(struct ext *x)
{
    u32 kind = (u32)(next() % 100);
    u64 m = next() | (1ULL << 63);
    u16 sign = (u16)((next() & 1) << 15);
    if (next() % 3 == 0)
        m &= ~((1ULL << (next() % 64)) - 1) | (1ULL << 63);
    if (kind < 5) { x->mant = 0; x->se = sign; }
    else if (kind < 10) { x->mant = m >> (1 + next() % 63); x->se = sign; }
    else if (kind < 14) { x->mant = 1ULL << 63; x->se = sign | 0x7FFF; }
    else if (kind < 18) { x->mant = m | (1ULL << 62); x->se = sign | 0x7FFF; }
    else if (kind < 22) { x->mant = (m & ~(1ULL << 62)) | 1; x->se = sign | 0x7FFF; }
    else if (kind < 24) { x->mant = m & ~(1ULL << 63); x->se = sign | (u16)(1 + next() % 0x7FFE); }
    else if (kind < 32) { x->mant = m; x->se = sign | (u16)((next() & 1) ? 1 + next() % 70 : 0x7FFE - next() % 70); }
    else if (kind < 45) { x->mant = m; x->se = sign | (u16)(1 + next() % 0x7FFE); }
    else if (kind < 65) { x->mant = m; x->se = sign | (u16)(16383 - 1100 + next() % 2200); }
    else { x->mant = m; x->se = sign | (u16)(16383 - 70 + next() % 140); }
}

struct ext a, b, r0, r1;
u64 mem, out;
u16 cw, sw;

#define PRE "fninit\n fldcw cw\n fldt b\n fldt a\n"
#define POST "fnstsw sw\n fstpt r0\n fstpt r1\n"
#define CASE(n, body) case n: __asm__ volatile(PRE body "\n" POST ::: "memory"); break;

static void run(u32 op)
{
    switch (op) {
    CASE(0, "fadd %%st(1), %%st")
    CASE(1, "fsub %%st(1), %%st")
    CASE(2, "fsubr %%st(1), %%st")
    CASE(3, "fmul %%st(1), %%st")
    CASE(4, "fdiv %%st(1), %%st")
    CASE(5, "fdivr %%st(1), %%st")
    CASE(6, "fsqrt")
    CASE(7, "frndint")
    CASE(8, "fscale")
    CASE(9, "fprem")
    CASE(10, "fprem1")
    CASE(11, "fxtract")
    CASE(12, "fcom %%st(1)")
    CASE(13, "fucom %%st(1)")
    CASE(14, "fxam")
    CASE(15, "ftst")
    CASE(16, "fsts out")
    CASE(17, "fstl out")
    CASE(18, "fists out")
    CASE(19, "fistl out")
    CASE(20, "fistpll out\n fldz")
    CASE(21, "fbstp out\n fldz")
    CASE(22, "flds mem")
    CASE(23, "fldl mem")
    CASE(24, "fadds mem")
    CASE(25, "fmull mem")
    CASE(26, "fidivl mem")
    CASE(27, "fcoms mem")
    CASE(28, "fchs")
    CASE(29, "fsubrl mem")
    }
}
#define NOPS 30

int main(void)
{
    u32 i;
    for (i = 0; i < 3000; i++) {
        u32 op = i % NOPS;
        gen(&a);
        gen(&b);
        mem = next();
        if (next() & 1) {         /* a float/double with special exponents */
            u32 e = (u32)(next() % 4);
            if (op == 22 || op == 24 || op == 27)
                mem = (mem & 0x807FFFFFULL) | (e == 0 ? 0 : e == 1 ? 0x7F800000ULL : (u64)(next() % 256) << 23);
            else
                mem = (mem & 0x800FFFFFFFFFFFFFULL) | (e == 0 ? 0 : e == 1 ? 0x7FF0000000000000ULL : (next() % 2048) << 52);
        }
        out = 0;
        cw = (u16)(0x007F | (next() % 4) << 10 | (u16[]){0, 2, 3}[next() % 3] << 8);
        run(op);
        hex(&i, 2); outb(' ');
        hex(&cw, 2); outb(' ');
        hex(&a, 10); outb(' ');
        hex(&b, 10); outb(' ');
        hex(&mem, 8); outb(' ');
        hex(&r0, 10); outb(' ');
        hex(&r1, 10); outb(' ');
        hex(&sw, 2); outb(' ');
        hex(&out, 8); outb('\n');
    }
    outb('E'); outb('N'); outb('D'); outb('\n');
    return 0;
}
