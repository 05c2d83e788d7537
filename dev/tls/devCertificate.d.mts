export declare const defaultCertificateDir: string;
export declare function ensureDevCertificate(dir?: string): Promise<{ certPath: string; keyPath: string; cert: string; key: string }>;
