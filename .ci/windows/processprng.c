/* processprng.c: a stand-in bcryptprimitives.dll for Wine 8 (Debian bookworm), which has none.
 * The Go runtime (1.24 and later) loads bcryptprimitives.dll from system32 at start and takes
 * ProcessPrng from it for crypto/rand; without it every Windows Go binary stops with
 * "fatal error: bcryptprimitives.dll not found" before main. Real Windows 10/11 ship the DLL,
 * so this exists only for running the test binaries under Wine (.ci/windows/run.sh installs it
 * into the Wine prefix, never anywhere else). It fills the buffer from RtlGenRandom
 * (advapi32!SystemFunction036), which Wine implements from the host's random source. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size)
{
    while (size > 0) {
        ULONG n = size > 0x40000000 ? 0x40000000 : (ULONG)size;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        size -= n;
    }
    return TRUE;
}
