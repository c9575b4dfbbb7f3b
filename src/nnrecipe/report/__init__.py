"""Turning results into things people look at: the JSON document, the terminal view, the HTML page."""
