Console.WriteLine("Campaigns sample");
