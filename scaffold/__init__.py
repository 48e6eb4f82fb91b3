"""The scaffold small models lean on: data and code facts, recipes, script repair. Depends on workspace/ only."""
