"""Reading the archive: what a principal may see of dossiers, pages and case records."""
