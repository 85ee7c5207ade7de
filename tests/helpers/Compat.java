// Test helper: a Java server and client (ServerSocket/Socket), run as a single-file program.
// usage: java Compat.java serve PORT FILE   (sends FILE to the first client, then exits)
//        java Compat.java get PORT OUT      (writes what the server sends to OUT)
import java.io.*;
import java.net.*;
import java.nio.file.*;

public class Compat {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[1]);
        if (args[0].equals("serve")) {
            try (ServerSocket server = new ServerSocket(port, 1, InetAddress.getByName("127.0.0.1"));
                 Socket client = server.accept();
                 OutputStream out = client.getOutputStream()) {
                out.write(Files.readAllBytes(Paths.get(args[2])));
            }
        } else {
            try (Socket socket = new Socket("127.0.0.1", port);
                 InputStream in = socket.getInputStream()) {
                Files.write(Paths.get(args[2]), in.readAllBytes());
            }
        }
    }
}
