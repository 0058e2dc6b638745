"""studybook: one Markdown question bank -> Anki deck, PDF handbook and EPUB."""

__version__ = "0.1.0"
