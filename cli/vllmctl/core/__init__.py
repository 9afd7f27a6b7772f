"""Pure logic: no network, no cluster, no terminal. Reads only the files it is handed."""
