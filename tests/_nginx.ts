// Starts a real nginx on 127.0.0.1 serving a temporary folder, for the
// remote-inspect tests. Its access log tells how many bytes it served.
import { type OptionalTool, optionalTool, runs } from "./_tools.ts";

export interface Nginx {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Folder served at `/`; files under `norange/` are served without range support. */
  root: string;
  /** Sum of the body bytes the server has sent so far. */
  bytesServed(): Promise<number>;
  stop(): Promise<void>;
}

// CKPTKIT_NGINX, else the nginx on PATH (root's PATH has /usr/sbin).
const NGINX = Deno.env.get("CKPTKIT_NGINX") || "nginx";

/** nginx, serving checkpoints over HTTP with range support. */
export const nginx: OptionalTool = await optionalTool(
  "nginx (nginx-light)",
  "NGINX",
  () => runs(NGINX, ["-v"]),
);

/** Whether to skip nginx tests: only when nginx is missing and not required (CI requires it). */
export const skipNginx = nginx.ignore;

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

export async function startNginx(): Promise<Nginx> {
  nginx.check();
  const dir = await Deno.makeTempDir({ prefix: "ckptkit-nginx-" });
  const root = `${dir}/www`;
  await Deno.mkdir(`${root}/norange`, { recursive: true });
  await Deno.mkdir(`${dir}/tmp`);
  const port = freePort();
  const config = `
user root;
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  log_format served '$status $body_bytes_sent';
  access_log ${dir}/access.log served;
  client_body_temp_path ${dir}/tmp;
  proxy_temp_path ${dir}/tmp;
  fastcgi_temp_path ${dir}/tmp;
  uwsgi_temp_path ${dir}/tmp;
  scgi_temp_path ${dir}/tmp;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location /norange/ { max_ranges 0; }
  }
}`;
  await Deno.writeTextFile(`${dir}/nginx.conf`, config);
  const child = new Deno.Command(NGINX, {
    args: ["-c", `${dir}/nginx.conf`, "-p", dir],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0;; attempt++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      break;
    } catch {
      if (attempt > 100) {
        child.kill();
        throw new Error(`nginx did not start: ${await Deno.readTextFile(`${dir}/error.log`)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    url,
    root,
    async bytesServed() {
      const log = await Deno.readTextFile(`${dir}/access.log`).catch(() => "");
      return log.split("\n").filter(Boolean).reduce(
        (sum, line) => sum + Number(line.split(" ")[1]),
        0,
      );
    },
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await child.stderr.cancel();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
