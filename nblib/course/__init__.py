"""The course on top of the core library: settings, shared drawing style, widgets, and one package per lesson."""
