// Intentionally empty: a C target needs one source file. The header only declares libFuzzer's driver.
#include "cfuzz.h"
