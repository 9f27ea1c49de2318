"""Printable documents: invoice and contract PDFs, rendered off the event loop and cached."""
