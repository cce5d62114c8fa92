/* The first Shoal example: a WASI command that greets and lists its
 * arguments. Build it with the project (meson compiles it with clang
 * --target=wasm32-wasi) and run it:
 *
 *     build/actor-runtime/run/shoal-run build/examples/wasi/hello.wasm a b
 */
#include <stdio.h>

int main(int argc, char **argv)
{
    printf("Hello from a WebAssembly program running on Shoal!\n");
    printf("I was started as %s with %d argument%s.\n", argv[0], argc - 1,
           argc == 2 ? "" : "s");
    for (int i = 1; i < argc; i++)
        printf("  argv[%d] = %s\n", i, argv[i]);
    return 0;
}
