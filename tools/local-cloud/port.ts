/** Where the local cloud listens unless told otherwise (its own module: clients import it without the server). */
export const DEFAULT_PORT = 8090
