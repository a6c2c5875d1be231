"""Settings: the bottom of the house. Every other part of mailark reads its configuration from here;
this package imports nothing else of mailark."""
