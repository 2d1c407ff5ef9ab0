int ckvm_placeholder(void);
