// placeholder, replaced by the Compiler implementation
