// CFuzz: declares libFuzzer's driver entry so a SwiftPM executable can run libFuzzer from its own `main`
// (SwiftPM's `main` wins over libFuzzer's, see docs: tools/fuzz-parsers.sh).
#ifndef CFUZZ_H
#define CFUZZ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// libFuzzer's driver (present only when linked with -sanitize=fuzzer).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *data, size_t size));

#ifdef __cplusplus
}
#endif
#endif
