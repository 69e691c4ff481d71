/* Test fixture for running clinicvault.exe under Wine 8, never shipped.
 *
 * Go's Windows runtime (since Go 1.22) takes its randomness from
 * bcryptprimitives.dll!ProcessPrng, which Windows 10 has and Wine 8.0 lacks;
 * without it the exe stops with "runtime: panic before malloc heap
 * initialized". This DLL exports ProcessPrng and answers it from advapi32's
 * SystemFunction036 (RtlGenRandom), the system's own generator. Built with
 * mingw by .ci/windows-e2e and copied into the Wine prefix's system32. */
#include <windows.h>

typedef BOOLEAN (WINAPI *rtlgenrandom_fn)(PVOID, ULONG);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    static rtlgenrandom_fn gen;
    if (gen == NULL) {
        HMODULE adv = LoadLibraryA("advapi32.dll");
        if (adv == NULL)
            return FALSE;
        gen = (rtlgenrandom_fn)GetProcAddress(adv, "SystemFunction036");
        if (gen == NULL)
            return FALSE;
    }
    while (len > 0) {
        ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!gen(data, n))
            return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
    (void)inst; (void)reason; (void)reserved;
    return TRUE;
}
