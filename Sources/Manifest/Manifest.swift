// placeholder, replaced by the Manifest implementation
