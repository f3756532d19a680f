/* A float kernel gcc compiles to SSE (pcmachine tests/guests/sse_gcc): prints
   results as hex on port 0xE9; built by build.sh. */
typedef unsigned int u32;
static void out(char c) { __asm__ volatile("outb %0, $0xE9" :: "a"(c)); }
static void hex(u32 v) { for (int i = 28; i >= 0; i -= 4) out("0123456789ABCDEF"[(v >> i) & 15]); out('\n'); }
static u32 bits(float f) { union { float f; u32 u; } x; x.f = f; return x.u; }
static u32 mxcsr(void) { u32 m; __asm__ volatile("stmxcsr %0" : "=m"(m)); return m; }
float a[64], b[64], c[64];
void main(void) {
    u32 seed = 12345;
    for (int i = 0; i < 64; i++) {
        seed = seed * 1103515245 + 12345; a[i] = (float)(int)(seed >> 8) / 1000.0f;
        seed = seed * 1103515245 + 12345; b[i] = (float)(int)(seed >> 12) / 37.0f + 0.5f;
    }
    for (int i = 0; i < 64; i++)
        c[i] = a[i] * b[i] + a[i] / b[i] - (a[i] > b[i] ? a[i] : b[i]);
    float sum = 0, dot = 0;
    for (int i = 0; i < 64; i++) { sum += c[i]; dot += a[i] * b[i]; }
    for (int i = 0; i < 64; i += 7) hex(bits(c[i]));
    hex(bits(sum)); hex(bits(dot));
    int n = 0;
    for (int i = 0; i < 64; i++) n += (int)c[i] > 1000;
    hex(n); hex(mxcsr());
    for (const char *s = "done\n"; *s; s++) out(*s);
}
