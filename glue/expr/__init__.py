"""Task expressions such as `(a | b | c); d; a + b + c + d`: grammar, parser and printer."""
