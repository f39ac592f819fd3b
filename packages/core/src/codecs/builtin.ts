/** Registers the built-in codecs, in the order they are tried (after every registered codec). */
import { addBuiltin } from './registry';
import { ndarrayCodec } from './ndarray';
import { bytesCodec } from './bytes';
import { typedCodec } from './typed';
import { scalarCodec } from './scalar';
import { structuredCodec } from './structured';

addBuiltin(ndarrayCodec);
addBuiltin(bytesCodec);
addBuiltin(typedCodec);
addBuiltin(scalarCodec);
addBuiltin(structuredCodec);
