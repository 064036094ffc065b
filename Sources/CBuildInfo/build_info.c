#include "build_info.h"

#ifndef DROVER_COMMIT
#define DROVER_COMMIT "unknown"
#endif

const char *drover_build_commit(void) { return DROVER_COMMIT; }
