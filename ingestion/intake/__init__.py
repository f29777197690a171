"""Stage 1, intake: pull, discover, read, normalise, pseudonymise and land a delivery in the raw zone."""
