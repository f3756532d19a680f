/* The debugger test kernel: a global the gdb tests watch, written five times,
 * each write followed by a digit on the debug port 0xE9.  Built with -g so gdb
 * shows source lines (tests/test_debugger.py). */

volatile unsigned int counter;

static void debug_out(char c)
{
    __asm__ volatile ("outb %0, $0xe9" : : "a"(c));
}

void kmain(void)
{
    for (int i = 0; i < 5; i++) {
        counter = counter + 3;          /* WATCHED WRITE */
        debug_out((char)('0' + i));
    }
    debug_out('\n');
}
