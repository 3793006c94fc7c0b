"""How the book shows its computations: one palette and the book's diagrams (:mod:`.plotting`), and computed values
handed to the prose (:mod:`.glue`), which works outside the book's build too.

The top of the package: it may use every other part, and nothing in the package imports it.
"""
