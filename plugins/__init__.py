"""Built-in pcmachine components: one module (or small package) per device."""
