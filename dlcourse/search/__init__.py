"""Visual search: cosine geometry of embeddings and a search tool for a folder of photos."""
