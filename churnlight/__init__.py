"""The churnlight command line. Nothing imports this package; it imports everything."""
