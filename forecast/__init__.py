"""Pure functions of the book's revenue: MRR movements, GRR/NRR, and their forecast."""
