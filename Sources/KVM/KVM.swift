// placeholder, replaced by the KVM implementation
