"""What the bot knows: FAQ, activity fields, places and its own words, as data plus loaders."""
