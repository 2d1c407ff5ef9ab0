// placeholder, replaced by the Rules implementation
