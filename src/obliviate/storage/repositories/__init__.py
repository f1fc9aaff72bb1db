"""SQL repositories, one module per table or concern, each bound to one tenant when built so
no query can leave it out (the job queue, which serves every tenant, is the one exception)."""
