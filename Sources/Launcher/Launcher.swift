// placeholder, replaced by the Launcher implementation
