/*
 * bcryptprimitives.dll stand-in for wine 8 (Debian 12).
 *
 * Go 1.22+ on Windows reads random bytes with ProcessPrng from
 * bcryptprimitives.dll. Wine 8 does not ship that export, so Go test
 * binaries abort at start with "bcryptprimitives.dll not found". This DLL
 * exports ProcessPrng and fills the buffer with RtlGenRandom
 * (advapi32!SystemFunction036), which wine does implement.
 *
 * Built by hack/install-wine.sh with mingw-w64 and copied into the wine
 * prefix's system32. It is for tests under wine only, never shipped.
 */
#include <windows.h>

/* RtlGenRandom is exported by advapi32 under this name. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size)
{
    while (size > 0) {
        ULONG chunk = size > 0x40000000 ? 0x40000000 : (ULONG)size;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        size -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance;
    (void)reason;
    (void)reserved;
    return TRUE;
}
