"""Business-type classification: taxonomy evidence combined with a character n-gram model."""
