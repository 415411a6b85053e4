// The package version, in one place (package.json says the same; a test checks they agree).
export const TGCNET_VERSION = '0.1.0';
