"""Page images and OCR engines behind one narrow interface."""
