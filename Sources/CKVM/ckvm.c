#include "ckvm.h"
int ckvm_placeholder(void) { return 0; }
