// The node-gpu tier: the browser tier's engine tests, in Node on Dawn (src/node/dawn.ts).
import { useDawn } from '../src/node/dawn';

await useDawn();
