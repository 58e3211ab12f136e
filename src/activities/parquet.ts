/** Parquet decoding with hyparquet (pure JS; reads Spark's snappy output). */

// hyparquet is ESM-only; a dynamic import keeps this CommonJS module loadable everywhere.
const hyparquet = import('hyparquet');

export async function readParquetRows(bytes: Uint8Array): Promise<Record<string, unknown>[]> {
  const { parquetReadObjects } = await hyparquet;
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return (await parquetReadObjects({ file })) as Record<string, unknown>[];
}
