// placeholder, replaced by the Plan implementation
