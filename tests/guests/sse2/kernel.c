/* Double arithmetic, conversions and integer SIMD that gcc compiles to SSE2
   (pcmachine tests/guests/sse2): prints results as hex on port 0xE9; built by
   build.sh. */
#include <emmintrin.h>

typedef unsigned int u32;
typedef unsigned long long u64;
static void out(char c) { __asm__ volatile("outb %0, $0xE9" :: "a"(c)); }
static void hex(u32 v) { for (int i = 28; i >= 0; i -= 4) out("0123456789ABCDEF"[(v >> i) & 15]); }
static void line(u32 v) { hex(v); out('\n'); }
static void line64(u64 v) { hex((u32)(v >> 32)); hex((u32)v); out('\n'); }
static void line128(__m128i v) { u64 q[2]; _mm_storeu_si128((__m128i *)q, v); hex((u32)(q[1] >> 32)); hex((u32)q[1]); line64(q[0]); }
static u64 bits(double d) { union { double d; u64 u; } x; x.d = d; return x.u; }
static u32 fbits(float f) { union { float f; u32 u; } x; x.f = f; return x.u; }
static void say(const char *s) { while (*s) out(*s++); }

/* strlen sixteen bytes at a time: PCMPEQB against zero, PMOVMSKB, BSF */
static u32 sse2_strlen(const char *s) {
    const char *p = (const char *)((u32)s & ~15u);
    u32 mask = (u32)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128((const __m128i *)p), _mm_setzero_si128()));
    mask >>= (u32)s & 15;
    if (mask) return (u32)__builtin_ctz(mask);
    for (;;) {
        p += 16;
        mask = (u32)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128((const __m128i *)p), _mm_setzero_si128()));
        if (mask) return (u32)(p - s) + (u32)__builtin_ctz(mask);
    }
}

double a[64], b[64], c[64];
static char text[200] __attribute__((aligned(16)));
static volatile double divisor = 3.0, big = 1e300, tiny = 1e-300;
static int stream_target;
/* globals, so that gcc cannot fold the operations on them at compile time */
u32 xv[4] __attribute__((aligned(16))) = {0x80FF017F, 0xDEADBEEF, 0x12345678, 0x7FFF8000};
u32 yv[4] __attribute__((aligned(16))) = {0xFF80807F, 0x0F0F0F0F, 0x9ABCDEF0, 0x00017FFF};
double dv[4] __attribute__((aligned(16))) = {-2.5, 3.5, 1e10, -1.5};
float fv[4] __attribute__((aligned(16))) = {2.5f, -0.5f, 1.5f, 0.5f};
float fw[4] __attribute__((aligned(16))) = {3.25f, 1e-40f, 0, 0};
int shift_count = 7;

void main(void) {
    u32 seed = 2718;
    for (int i = 0; i < 64; i++) {
        seed = seed * 1103515245 + 12345; a[i] = (double)(int)seed / 7919.0;
        seed = seed * 1103515245 + 12345; b[i] = (double)(int)(seed >> 9) / 131.0 + 0.25;
    }
    say("double\n");
    for (int i = 0; i < 64; i++)
        c[i] = a[i] * b[i] + a[i] / b[i] - (a[i] > b[i] ? a[i] : b[i]) + __builtin_sqrt(b[i] * b[i]);
    double sum = 0, dot = 0;
    for (int i = 0; i < 64; i++) { sum += c[i]; dot += a[i] * b[i]; }
    for (int i = 0; i < 64; i += 9) line64(bits(c[i]));
    line64(bits(sum)); line64(bits(dot));
    line64(bits(big * big)); line64(bits(tiny * tiny)); line64(bits(-big / (tiny - tiny)));
    line(_mm_getcsr());
    say("conversions\n");
    int n = 0;
    for (int i = 0; i < 64; i++) n += (int)c[i] > 1000;
    line(n);
    for (int i = 0; i < 64; i += 13) {
        line((u32)(int)c[i]); line(fbits((float)c[i])); line64(bits((double)(float)a[i]));
        line64(bits((double)(int)(seed >> (i & 7)) * 0.5));
    }
    for (u32 rc = 0; rc < 4; rc++) {
        _mm_setcsr(0x1F80 | (rc << 13));
        double third = 1.0 / divisor;
        line64(bits(third)); line(fbits((float)third));
        line((u32)_mm_cvtsd_si32(_mm_load_sd(&dv[0]))); line((u32)_mm_cvtsd_si32(_mm_load_sd(&dv[1])));
        line128(_mm_cvtpd_epi32(_mm_load_pd(&dv[2]))); line128(_mm_cvtps_epi32(_mm_load_ps(fv)));
        line128(_mm_castpd_si128(_mm_cvtps_pd(_mm_load_ps(fw))));
        line128(_mm_castps_si128(_mm_cvtpd_ps(_mm_load_pd(&dv[1])))); line128(_mm_cvttpd_epi32(_mm_load_pd(dv)));
        line(_mm_getcsr());
    }
    _mm_setcsr(0x1F80);
    say("integer\n");
    __m128i x = _mm_load_si128((const __m128i *)xv), y = _mm_load_si128((const __m128i *)yv);
    line128(_mm_add_epi8(x, y)); line128(_mm_adds_epi16(x, y)); line128(_mm_subs_epu8(x, y));
    line128(_mm_add_epi64(x, y)); line128(_mm_sub_epi64(x, y)); line128(_mm_mul_epu32(x, y));
    line128(_mm_mullo_epi16(x, y)); line128(_mm_mulhi_epi16(x, y)); line128(_mm_mulhi_epu16(x, y));
    line128(_mm_madd_epi16(x, y)); line128(_mm_sad_epu8(x, y)); line128(_mm_avg_epu8(x, y));
    line128(_mm_min_epi16(x, y)); line128(_mm_max_epu8(x, y)); line128(_mm_cmpgt_epi32(x, y));
    line128(_mm_packs_epi32(x, y)); line128(_mm_packus_epi16(x, y)); line128(_mm_packs_epi16(x, y));
    line128(_mm_unpacklo_epi8(x, y)); line128(_mm_unpackhi_epi16(x, y));
    line128(_mm_unpacklo_epi64(x, y)); line128(_mm_unpackhi_epi64(x, y));
    line128(_mm_shuffle_epi32(x, 0x1B)); line128(_mm_shufflelo_epi16(x, 0x93)); line128(_mm_shufflehi_epi16(y, 0x4E));
    line128(_mm_slli_si128(x, 5)); line128(_mm_srli_si128(y, 11)); line128(_mm_srai_epi16(x, 3));
    line128(_mm_sll_epi32(x, _mm_cvtsi32_si128(shift_count))); line128(_mm_srl_epi64(y, _mm_cvtsi32_si128(shift_count * 5 - 2)));
    line128(_mm_insert_epi16(x, 0xBEEF, 5)); line(_mm_extract_epi16(y, 6));
    line(_mm_movemask_epi8(x)); line(_mm_movemask_pd(_mm_castsi128_pd(y)));
    line128(_mm_andnot_si128(x, y)); line128(_mm_xor_si128(x, y));
    __m128i z = _mm_setzero_si128();
    _mm_maskmoveu_si128(y, x, (char *)&z);
    line128(z);
    _mm_stream_si32(&stream_target, 0x600DF00D);
    _mm_mfence(); _mm_lfence(); _mm_clflush(&stream_target);
    line((u32)stream_target);
    say("string\n");
    const char *words = "SSE2 arrived with the Pentium 4 in November 2000; glibc picks __strlen_sse2 by CPUID.";
    for (u32 i = 0; words[i]; i++) text[i + 3] = words[i];
    for (u32 i = 0; i < 40; i += 7) line(sse2_strlen(text + 3 + i));
    line(_mm_getcsr());
    say("done\n");
}
