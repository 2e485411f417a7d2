// A handler that loads a native addon (@napi-rs/canvas, a .node file): not something one ES module can carry.
import { createCanvas } from '@napi-rs/canvas';

export const handler = async () => createCanvas(1, 1).width;
