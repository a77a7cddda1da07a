// Types of the vendored qrcode-generator 2.0.4 ES module (web_client/vendor/qrcode-generator/
// qrcode.js), the part the pages use. The package's own qrcode.d.ts declares a global, not this
// module, and leaves out getModuleCount() and isDark().
export interface QRCode {
  addData(data: string, mode?: "Numeric" | "Alphanumeric" | "Byte" | "Kanji"): void;
  make(): void;
  getModuleCount(): number;
  isDark(row: number, col: number): boolean;
}

declare function qrcode(typeNumber: number, errorCorrectionLevel: "L" | "M" | "Q" | "H"): QRCode;
export default qrcode;
